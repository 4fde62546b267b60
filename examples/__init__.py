"""Worked examples of local tools built on `harness.tools`; not part of the installed package.

`examples.draft_tools` is importable from a checkout's root (`coze-harness bridge serve --module
examples.draft_tools`), and `examples/scenarios/` is a folder of extra simulator scenarios for it
(`coze-harness serve --scenarios examples/scenarios`).
"""
