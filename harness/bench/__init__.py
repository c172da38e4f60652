"""Benchmark-specific pieces the YAML definitions in benchmarks/ point at.

A benchmark definition is data; what data cannot say lives here as named functions: `prepare`
hooks that turn one raw row into the fields a metric needs (HallusionBench figure ids, MMBench
circular groups, WeMath step keys, MMMU image tags and accepted answers), and metric functions
`f(rows: list[ScoredItem]) -> dict` that compute the number each benchmark's authors define
(fAcc/qAcc, circular accuracy, WeMath strict).
"""
