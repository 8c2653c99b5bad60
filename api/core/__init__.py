"""What every layer uses: the problem family, the caller, pagination, security, request
context and metrics."""
