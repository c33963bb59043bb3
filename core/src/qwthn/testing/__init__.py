"""Tools for backend authors: a NumPy reference and a conformance suite any backend plugin can run.

- `qwthn.testing.reference`: an independent big-endian NumPy state-vector
  simulator built from the gate table's matrices, and a random-circuit generator.
- `qwthn.testing.conformance`: the pytest suite. Run it against an installed backend with

      qwthn-backend-test NAME [--options JSON] [pytest args...]
      pytest --pyargs qwthn.testing.conformance --qwthn-backend NAME [--qwthn-backend-options JSON]

- `qwthn.testing.pytest_plugin`: the pytest plugin (registered through `pytest11`)
  that adds those options, the `qwthn_backend` fixture and the verdict (what was certified;
  exit code 6 when something was NOT CERTIFIED); inert without them.

Importing this package imports nothing heavy (the pytest plugin loads it in every pytest run).
"""
