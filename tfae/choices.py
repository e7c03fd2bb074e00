"""The named choices of tfae's settings, in one module.

Each library module that takes one of these settings imports its tuple from here
(so the values are written once), and the command line builds its ``choices`` and
help texts from the same tuples.
"""

#: How ``tfae.datasets`` / ``tfae train`` binarize grey levels; "dynamic" redraws a
#: stochastic binarization of the training set every epoch.
BINARIZATIONS = ("none", "threshold", "stochastic", "dynamic")

#: Encoder/decoder networks built by ``tfae.models.builders``.
ARCHITECTURES = ("dense", "conv")

#: Decoder likelihoods p(x | h) by name (``tfae.likelihoods.get``).
LIKELIHOODS = ("bernoulli", "gaussian")

#: Corruption processes C(x~ | x) by name (``tfae.corruption.get``).
CORRUPTIONS = ("salt_and_pepper", "masking", "gaussian")

#: How a VAE computes KL(q(z | x) || p(z)).
KL_METHODS = ("analytic", "monte_carlo")

#: Covariance forms of ``tfae.GaussianMixture`` (scikit-learn's names).
COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")

#: Parts of a model that ``tfae.export`` writes -> the name of the part's signature.
#: Autoencoders (AE, DAE, VAE) have the first three, MADE ``conditionals``,
#: ``log_prob`` and ``sampler``, the Gaussian mixture ``log_prob`` and ``sampler``.
SIGNATURES = {"encoder": "encode", "decoder": "decode", "autoencoder": "reconstruct",
              "conditionals": "conditionals", "log_prob": "log_prob", "sampler": "sample"}

#: How ``tfae.export.tflite`` quantizes a file (None: float32 weights and compute).
QUANTIZATIONS = ("float16", "dynamic_int8", "int8")

#: The formats of ``tfae.export`` and ``tfae export``.
EXPORT_FORMATS = ("tflite", "saved_model")

#: The splits of every dataset: train, valid (to choose settings and stop), test.
SPLITS = ("train", "valid", "test")

#: How ``tfae.layers.MaskedDense`` (and ``tfae.MADE``) apply a mask: ``kernel * mask``
#: (a float mask) or ``where(mask, kernel, 0)`` (a boolean mask).
MASK_OPS = ("multiply", "select")

#: Where ``tfae train`` trains (``tfae.runs.distribution``): one device, the local
#: devices (``tf.distribute.MirroredStrategy``), or the workers of ``TF_CONFIG``
#: (``tf.distribute.MultiWorkerMirroredStrategy``).
STRATEGIES = ("default", "mirrored", "multiworker")
