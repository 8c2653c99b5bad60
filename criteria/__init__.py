"""Smart-village criteria: documents, periods, text folding and the exact scoring engine.

Pure: imports no web or database package.
"""
