"""The Moving MNIST reader, one format in two modules.

:mod:`.reader` holds the ``mnist-npy`` and ``mnist-idx`` readers and their frame layout;
:mod:`.generate` the seeded generator that animates IDX digits.
"""
