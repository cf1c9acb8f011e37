"""The benchmarks: `python -m bench` lists them, `python -m bench NAME [ARGS]` runs one, `--smoke` runs it tiny
on stand-in images (what the tests do). Results are JSON with the machine, versions and thread count."""
