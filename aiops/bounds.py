"""The bounds on numbers every aiops reader keeps, in one place.

* ``MAX_SAFE_INTEGER`` — no integer in a pack file, a sidecar, a checkpoint, a model's
  answer, a fixture or a configuration file lies outside +-(2**53 - 1): the range every
  JSON parser (a JavaScript one, a double) reads exactly, as I-JSON (RFC 7493) asks.
  Floats must be finite everywhere (``aiops.evidence.strict``, ``aiops.configuration``).
* ``MAX_FIGURE`` — the largest latency (ms), cost (USD), price or token count that
  means anything: far above any real run, far below where sums over a long pilot lose
  their meaning. A schema that records such a figure bounds it by this.
* ``MAX_NESTING`` — no JSON value (a pack file, a model's answer, a provider's body,
  a fixture) nests arrays and objects deeper than this. Deeper is refused by every
  reader alike, however deep its own call stack (Python's recursion limit would
  otherwise decide, at a depth that varies with the caller).
* ``MAX_SECONDS`` — no wait, timeout or deadline of a run is longer than a day, so a
  timer can always hold it.

Plain constants, no imports: ``verify-pack`` and the configuration both read them.
"""

MAX_SAFE_INTEGER = 2**53 - 1
MAX_FIGURE = 10**12
MAX_NESTING = 128
MAX_SECONDS = 86_400.0
