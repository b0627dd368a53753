"""Leadinc Assistant backend.

BLAS threads: the embeddings and vector maths here are many tiny matrix products, one per request,
run concurrently by the server's worker threads. A multi-threaded BLAS (numpy's OpenBLAS defaults
to one thread per core) gains nothing on such products and, once the cores are busy, its spinning
threads make each product ~30x slower (measured: 65 ms instead of 1.7 ms per query embedding on a
loaded 2-core machine). One BLAS thread per Python thread unless the operator sets otherwise; this
must run before numpy is first imported, which is why it lives in the package's ``__init__``.
"""

import os

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")
