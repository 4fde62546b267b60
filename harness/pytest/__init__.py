"""The pytest plugin (`plugin`, loaded by the `pytest11` entry point `coze_harness`) and its parts: the
network guard (`network`), the client modes and the simulator they reach (`modes`), cassette mode
(`cassette`), the bridge fixture's server (`bridge`) and the heap freeze around a session (`heap`)."""
