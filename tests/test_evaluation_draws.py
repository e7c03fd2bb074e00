"""Models that draw noise in their loss (a DAE's corruption and walkback, a VAE's z)
draw evaluation noise apart from training's (``UnsupervisedModel.evaluation_seed``)."""

import keras
import numpy as np
import pytest

import tfae
from tfae import corruption

MODELS = {
    "dae": lambda: tfae.DenoisingAutoencoder(
        (8, 8, 1), 8, hidden_units=(8,), seed=0, walkback_steps=2,
        corruption=corruption.SaltAndPepper(0.3, seed=4)),
    "vae": lambda: tfae.VAE((8, 8, 1), latent_dim=2, hidden_units=(8,), seed=3),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_validation_does_not_change_the_training_draws(name, binary_digits):
    x, x_val = binary_digits[0][:128], binary_digits[1][:64]
    weights = []
    for validation_data in (None, x_val):
        keras.utils.set_random_seed(1)  # the same initial weights
        model = MODELS[name]()
        model.compile(optimizer="adam")
        history = model.fit(x, validation_data=validation_data, epochs=2, batch_size=64,
                            verbose=0).history
        weights.append(model.get_weights())
    for without, with_validation in zip(*weights, strict=True):
        np.testing.assert_array_equal(without, with_validation)
    # Every evaluation (of the same batches) draws the same noise: val_loss is
    # comparable across epochs.
    evaluations = [model.evaluate(x_val, batch_size=64, verbose=0, return_dict=True)
                   for _ in range(2)]
    assert evaluations[0] == evaluations[1]
    assert evaluations[0]["loss"] == history["val_loss"][-1]
