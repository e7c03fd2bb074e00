"""The ``tfae`` command: train, evaluate, sample, export and demo.

``options.py`` holds the checked option types, ``train.py`` the ``tfae train MODEL``
parsers, ``commands.py`` the other parsers, the commands and ``main``.


    tfae train ae --dataset digits --epochs 50 --out runs/ae-digits
    tfae train dae --corruption salt_and_pepper --noise-level 0.2 --out runs/dae-digits
    tfae sample runs/dae-digits --num 20 --steps 200
    tfae train made --hidden-units 500 --num-masks 8 --out runs/made-digits
    tfae train made --jit-compile --steps-per-execution 50 --out runs/made-fast
    tfae sample runs/made-digits --num 20
    tfae train gmm --components 10 --pca-dim 20 --binarize none --out runs/gmm-digits
    tfae train vae --latent-dim 8 --beta 1 --out runs/vae-digits
    tfae evaluate runs/vae-digits --importance-samples 1000
    tfae sample runs/vae-digits --num 20
    tfae evaluate runs/ae-digits
    tfae export runs/ae-digits --part decoder --format tflite
    tfae demo --out runs

Choices and defaults come from the library: ``tfae.choices``, ``tfae.masks``,
``TrainConfig``, the run specs (``tfae.runs.MODELS``) and the models' constructors.
"""

from tfae.cli.commands import build_parser, main

__all__ = ["build_parser", "main"]
