"""Data makers: the demo province and the synthetic nation of `generate`.

Called by the command line and tests; never imported by services.
"""
