"""Posterior flows: invertible maps that make q(z|x) more flexible than a Gaussian.

A flow draws z_0 ~ q_0(z_0|x) (the encoder's diagonal Gaussian), then applies T
invertible steps, z_T = f_T(... f_1(z_0)), conditioned on a context h(x) from the
encoder. By the change of variables, the density of z = z_T is

    q(z_T|x) = q_0(z_0|x) |det dz_T/dz_0|^{-1},
    log q(z_T|x) = log q_0(z_0|x) - log |det dz_T/dz_0|,

which is cheap when every step has a triangular Jacobian, as in the inverse
autoregressive flow (Kingma et al. 2016).
"""

from tfae.flows.inverse_autoregressive import InverseAutoregressiveFlow

__all__ = ["InverseAutoregressiveFlow"]
