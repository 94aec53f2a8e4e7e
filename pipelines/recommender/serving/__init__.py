"""`kubetfx serve`: the latest blessed model behind KServe's Python model server.

`config` holds the typed settings, `loaded` one SavedModel under the kubetfx contract,
`instances` the checks that turn a request into a batch, `model` the KServe predictor,
`watcher` the reload on a new push, `request_log` the log the monitor reads, `server` the
process, `process` a server as a child process (tests, benchmark), and `bench` the load benchmark.
"""
