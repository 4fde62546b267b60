"""The pytest plugin (`plugin`, loaded by the `pytest11` entry point `coze_harness`) and its parts: the
network guard (`network`), the client modes and the simulator they reach (`modes`), cassette mode
(`cassette`) and the bridge fixture's server (`bridge`)."""
