"""Model files: saved and loaded with skops, which rebuilds objects without running their code.

A model file may only contain scikit-learn's own estimators plus the handful of types in
:data:`hokusai_preview.core.recipe.TRUSTED_TYPES`; anything else is refused before loading,
naming the types.
"""

from .errors import BaselineError, UntrustedModelError
from .fsutil import atomic_path


def save_model(model, path):
    """Write ``model`` to ``path`` atomically (zip-compressed skops file)."""
    import zipfile

    import skops.io as sio

    with atomic_path(path) as tmp:
        sio.dump(model, tmp, compression=zipfile.ZIP_DEFLATED)


def load_model(path):
    """Load a skops model file, refusing any type outside the trusted list."""
    import skops.io as sio

    from .recipe import TRUSTED_TYPES

    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:  # not a zip, truncated, or not a skops file at all
        raise BaselineError("model file %s is not a readable skops file (%s)" % (path, type(exc).__name__),
                            "rebuild the bundle with hp-baseline") from None
    refused = sorted(set(untrusted) - set(TRUSTED_TYPES))
    if refused:
        raise UntrustedModelError("model file %s needs untrusted types: %s" % (path, ", ".join(refused)),
                                  "only load models whose types you trust; rebuild it with hp-baseline")
    try:
        return sio.load(path, trusted=sorted(set(untrusted)))
    except Exception as exc:
        raise BaselineError("model file %s cannot be loaded: %s" % (path, type(exc).__name__),
                            "rebuild the bundle with hp-baseline") from None
