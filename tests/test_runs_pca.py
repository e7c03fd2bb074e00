"""tfae.runs.PrincipalComponents: the space a run's Gaussian mixture is fitted in."""

import numpy as np
import pytest

from tfae.runs import PrincipalComponents


@pytest.fixture
def correlated(rng):
    return rng.normal(size=(300, 6)) @ rng.normal(size=(6, 6)) + 3.0


def test_components_are_orthonormal_in_decreasing_order_of_variance(correlated):
    pca = PrincipalComponents.fit(correlated, 4)
    np.testing.assert_allclose(pca.components @ pca.components.T, np.eye(4), atol=1e-12)
    variances = pca.project(correlated).var(axis=0)
    assert np.all(np.diff(variances) < 0)
    np.testing.assert_allclose(pca.project(correlated).mean(axis=0), 0.0, atol=1e-10)


def test_all_components_reconstruct_the_data_exactly(correlated):
    pca = PrincipalComponents.fit(correlated, 6)
    np.testing.assert_allclose(pca.reconstruct(pca.project(correlated)), correlated, atol=1e-10)


def test_the_variances_are_scikit_learns(correlated):
    from sklearn.decomposition import PCA

    reference = PCA(3).fit(correlated)
    pca = PrincipalComponents.fit(correlated, 3)
    np.testing.assert_allclose(pca.project(correlated).var(axis=0, ddof=1),
                               reference.explained_variance_, rtol=1e-10)
    np.testing.assert_allclose(np.abs(pca.components @ reference.components_.T), np.eye(3),
                               atol=1e-8)


def test_a_saved_pca_loads_identical(correlated, tmp_path):
    pca = PrincipalComponents.fit(correlated, 2)
    pca.save(tmp_path / "pca.npz")
    loaded = PrincipalComponents.load(tmp_path / "pca.npz")
    np.testing.assert_array_equal(loaded.project(correlated), pca.project(correlated))


@pytest.mark.parametrize("dims", [0, 7])
def test_impossible_dimensions_are_refused(correlated, dims):
    with pytest.raises(ValueError, match=r"pca_dim must be in \[1, 6\]"):
        PrincipalComponents.fit(correlated, dims)
