"""Use cases per resource, shared by the HTTP routers, the CLI and the benchmarks."""
