"""Arrays of other libraries (PyTorch, CuPy, ...) through the array API standard.

With ``sklearn.config_context(array_api_dispatch=True)``, an ``X`` that is
not a numpy array but an array of a library that follows the array API
standard (PyTorch, CuPy, array-api-strict, ...) is fitted and predicted in
its own namespace and on its own device (see :func:`dispatched`). Only the
passes over the data run there (``_backends``); the solver's small vectors
(coefficients and gradients, one per feature and class) stay in numpy on
the host and cross to the device and back once a pass, as the dask path
keeps them on the client. The fitted arrays and the outputs of ``predict``
and its siblings are put back in ``X``'s namespace, on ``X``'s device.

``array-api-compat`` (the optional extra ``array-api``) supplies the
standard's namespace of each library; numpy arrays never need it.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn import get_config

_INSTALL_HINT = (
    "Arrays of libraries other than numpy need the package array-api-compat: "
    "pip install 'sklearn-gdlogreg[array-api]'."
)


def _compat():
    try:
        import array_api_compat
    except ImportError as error:  # an optional extra
        raise ImportError(_INSTALL_HINT) from error
    return array_api_compat


def _is_numpy_like(x) -> bool:
    """Whether the numpy path takes ``x``: numpy and scipy.sparse arrays, and
    what has no ``__dlpack__`` (lists, pandas, dask arrays)."""
    return isinstance(x, np.ndarray) or sp.issparse(x) or not hasattr(x, "__dlpack__")


def dispatched(X) -> bool:
    """Whether ``X`` is fitted and predicted in its own namespace.

    That is when scikit-learn's ``array_api_dispatch`` is on and ``X`` is an
    array of a library other than numpy. Without dispatch such arrays are
    converted to numpy, as scikit-learn does.
    """
    return get_config()["array_api_dispatch"] and not _is_numpy_like(X)


def namespace(x):
    """The array API namespace of ``x``: numpy itself for what the numpy path
    takes (numpy and scipy.sparse arrays, lists, dask chunks)."""
    if _is_numpy_like(x):
        return np
    return _compat().array_namespace(x)


def astype(x, dtype):
    """``x`` in the type that numpy's ``dtype`` names, in its own namespace."""
    xp = namespace(x)
    if xp is np:
        return np.asarray(x).astype(dtype, copy=False)
    return xp.astype(x, getattr(xp, np.dtype(dtype).name), copy=False)


def host_dtype(X) -> np.dtype:
    """The numpy float type of ``X``'s float type (float32 or float64)."""
    if _is_numpy_like(X):
        return np.dtype(X.dtype)
    return np.dtype(np.float32 if X.dtype == namespace(X).float32 else np.float64)


def to_numpy(x) -> np.ndarray:
    """``x`` as a numpy array on the host (``x`` itself if it is one)."""
    if _is_numpy_like(x):
        return np.asarray(x)
    compat = _compat()
    if compat.is_torch_array(x):
        return x.detach().cpu().numpy()
    if compat.is_cupy_array(x):
        return x.get()
    try:  # any array on the CPU, array-api-strict's devices among them
        return np.from_dlpack(x)
    except (BufferError, RuntimeError, TypeError, ValueError):
        return np.asarray(x)


def on_host(x):
    """``x`` itself, or as a numpy array if it is an array of another library
    (labels and weights follow X: to the host for the numpy path)."""
    return x if _is_numpy_like(x) else to_numpy(x)


def like(array: np.ndarray, X, dtype=None):
    """Numpy ``array`` in ``X``'s namespace and on its device (``dtype``: the
    namespace's type of that name, by default the array's own)."""
    xp = namespace(X)
    if xp is np:
        return array if dtype is None else array.astype(dtype, copy=False)
    dtype = getattr(xp, np.dtype(dtype or array.dtype).name)
    return xp.asarray(array, dtype=dtype, device=_compat().device(X))


def check_same_namespace(X, fitted, method: str) -> None:
    """With dispatch on, ``X`` must be in the namespace and on the device of
    the ``fitted`` array: the model does not move between devices silently.

    ``method`` names the method called, for the error message.
    """
    if not get_config()["array_api_dispatch"]:
        return
    if _is_numpy_like(X) and _is_numpy_like(fitted):
        return
    if not (_is_numpy_like(X) or _is_numpy_like(fitted)):
        device = _compat().device
        if namespace(X) is namespace(fitted) and device(X) == device(fitted):
            return
    raise ValueError(
        f"Inputs passed to {method}() must use the same namespace and the "
        "same device as the arrays fitted by fit(): X is "
        f"{_describe(X)}, the fitted model is {_describe(fitted)}. Predict "
        "with arrays of the library and device the model was fitted with."
    )


def _describe(x) -> str:
    if _is_numpy_like(x):
        return f"a {type(x).__name__} (numpy path)"
    return f"{namespace(x).__name__} on device {_compat().device(x)}"


# The libraries whose arrays a saved model may be restored to (by name).
_RESTORABLE = ("torch", "cupy", "array_api_strict")


def host_state(state: dict) -> dict:
    """``state`` with each array of another library replaced by a numpy copy.

    The library and device of those arrays go under ``"_array_namespace"``
    (strings only), so that a saved model (pickle or skops, which knows
    numpy only) holds numpy arrays and :func:`from_host_state` can put them
    back where they were.
    """
    moved = {
        name: value
        for name, value in state.items()
        if hasattr(value, "__dlpack__") and not _is_numpy_like(value)
    }
    if not moved:
        return state
    origin = {}
    for name, value in moved.items():
        library = namespace(value).__name__.split(".")[-1]
        origin[name] = [library, str(_compat().device(value))]
    return {
        **state,
        **{name: to_numpy(value) for name, value in moved.items()},
        "_array_namespace": origin,
    }


def from_host_state(state: dict) -> dict:
    """The inverse of :func:`host_state`: the arrays back in their library,
    on their device."""
    origin = state.get("_array_namespace")
    if not origin:
        return state
    import importlib

    state = {name: value for name, value in state.items() if name != "_array_namespace"}
    for name, (library, device) in origin.items():
        if library not in _RESTORABLE:
            raise ValueError(
                f"Cannot restore {name} as an array of {library!r}: only "
                f"{', '.join(_RESTORABLE)} arrays are restored."
            )
        module = importlib.import_module(library)
        if library == "torch":
            state[name] = module.asarray(state[name], device=device)
        elif library == "cupy":
            with module.cuda.Device(int(device.split()[-1].rstrip(">"))):
                state[name] = module.asarray(state[name])
        else:  # array-api-strict: its devices are named, Device('device1')
            named = module.Device(device.split("'")[1]) if "'" in device else None
            state[name] = module.asarray(state[name], device=named)
    return state
