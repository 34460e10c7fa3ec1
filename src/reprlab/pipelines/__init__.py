"""Pipelines: the orchestration between the library's layers and the files a user keeps.

A pipeline reads data, builds models, trains them through :mod:`reprlab.train`, measures them
through :mod:`reprlab.eval`, draws through :mod:`reprlab.viz`, and owns the folders it writes
(models return tensors; pipelines write files):

- :mod:`.training` — ``reprlab train``: a run folder from a config (:func:`~.training.train_run`,
  :func:`~.training.load`);
- :mod:`.stylize` — ``reprlab stylize``: neural style transfer into a run folder;
- :mod:`.embed` — ``reprlab embed`` / ``interpolate``: codes, 2-D maps, pictures and a page;
- :mod:`.domain_adaptation` — ``reprlab da``: mSDA / SDA / raw features on the Amazon reviews;
- :mod:`.sda` — the stacked denoising auto-encoder as a scikit-learn transformer;
- :mod:`.compare` — ``reprlab compare``: every method's codes at one code size, the same probes
  over several seeds (methods in :mod:`.compare_methods`, files in :mod:`.compare_output`; the Amazon
  reviews' source -> target transfer table in :mod:`.compare_transfer`).
"""
