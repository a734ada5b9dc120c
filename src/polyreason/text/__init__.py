"""Text analysis every layer shares (verify, rewards, evaluate, data); pure Python, no torch.

* :mod:`~polyreason.text.region`: the think/answer convention -- what may be graded, what is reasoning.
* :mod:`~polyreason.text.boxed`: the one brace-balanced ``\\boxed{}`` extractor (``last_boxed``, ``all_boxed``).
* :mod:`~polyreason.text.spans`: delimited spans in linear time, one scanner with two rule sets (math and code kept
  from prose; the stricter math the verifier reads).
* :mod:`~polyreason.text.prose`: the words language ID should see.
* :mod:`~polyreason.text.langid`: one offline fastText detector and ``MIN_LETTERS``.
* :mod:`~polyreason.text.repetition`: loop, flood and character-loop statistics; the ``repetition_loop`` rule.
* :mod:`~polyreason.text.equations`: the plain-arithmetic equations a text writes, each judged true or false.
* :mod:`~polyreason.text.analysis`: the per-completion analysis the language reward and the evaluation share.

Nothing here imports the rest of polyreason except :mod:`polyreason.errors`.
"""
