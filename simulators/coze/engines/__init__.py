"""What happens inside the platform: a bot's chat rounds and tool calls, a workflow's nodes."""
