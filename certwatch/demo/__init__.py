"""Generated data for demos, benchmarks and evaluation: never imported by a service (import-linter's
"production never imports the generators").

- `registry`: the certification body's demo registry that `certwatch run` imports;
- `bulletins`: synthetic bulletins, lists and status files in the published formats (the local feed server
  serves them; the ingest tests and benchmarks parse them);
- `evalset`: the matcher's generated registry and queries (bench_matching, eval_matching, bench_sweep).
"""
