"""Reading a page: HTML in, article fields out. Framework-free: site profiles
(crawler/sites/*.yaml), the rules that apply them, the generic heuristics, and the pure
functions for dates, text, bodies and encodings.
"""
