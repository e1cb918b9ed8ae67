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

import warnings
from collections.abc import Callable

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


def copied(x):
    """A copy of ``x``, in its own namespace and on its device."""
    xp = namespace(x)
    if xp is np:
        return np.array(x, copy=True)
    return xp.asarray(x, copy=True)


def vdot(a, b) -> float:
    """The sum of ``a * b`` over every entry (arrays of one shape, in one
    namespace), as a Python float on the host."""
    xp = namespace(a)
    if xp is np:
        return float(np.vdot(a, b))
    return float(xp.sum(a * b))


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


# The fitted attributes that may hold arrays of another library, the only
# ones host_state stores as numpy and from_host_state converts back: a saved
# file must not turn other state (parameters, n_iter_) into arrays.
_FITTED_ARRAYS = ("classes_", "coef_", "intercept_", "loss_curve_")
# The libraries whose arrays a saved model may be restored to (by name): the
# only modules that a saved file can make from_host_state import.
_RESTORABLE = ("torch", "cupy", "array_api_strict")


def host_state(state: dict) -> dict:
    """``state`` with each fitted array of another library replaced by a
    numpy copy.

    The library and device of those arrays go under ``"_array_namespace"``
    (strings only), so that a saved model (pickle or skops, which knows
    numpy only) holds numpy arrays and :func:`from_host_state` can put them
    back where they were.
    """
    moved = {
        name: state[name]
        for name in _FITTED_ARRAYS
        if hasattr(state.get(name), "__dlpack__") and not _is_numpy_like(state[name])
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
    on their device.

    The state comes from a file: ``"_array_namespace"`` may name only the
    fitted arrays (:data:`_FITTED_ARRAYS`), present as numeric numpy arrays,
    and only the libraries of :data:`_RESTORABLE`; anything else is a
    ``ValueError``. A device that this machine lacks (a CUDA device on a
    machine without one) gives the arrays on the CPU, and a library that is
    not installed gives numpy arrays, each with a warning that names the
    device the model was fitted on.
    """
    if "_array_namespace" not in state:
        return state
    origin = _checked_origin(state)
    state = {name: value for name, value in state.items() if name != "_array_namespace"}
    by_place: dict[tuple[str, str], list[str]] = {}
    for name, place in origin.items():
        by_place.setdefault(place, []).append(name)
    for (library, device), names in by_place.items():
        restore = _restorer(library, device, names)
        for name in names:
            state[name] = restore(state[name])
    return state


def _checked_origin(state: dict) -> dict[str, tuple[str, str]]:
    """``state["_array_namespace"]`` as ``{attribute: (library, device)}``,
    checked against the fitted arrays and the restorable libraries."""
    origin = state["_array_namespace"]
    if not isinstance(origin, dict):
        raise ValueError(
            "Cannot load this model: its _array_namespace is not a mapping of "
            f"fitted attributes to [library, device] but {type(origin).__name__}."
        )
    checked = {}
    for name, place in origin.items():
        if name not in _FITTED_ARRAYS:
            raise ValueError(
                f"Cannot load this model: its _array_namespace names {name!r}, "
                "which is not a fitted array of this estimator (only "
                f"{', '.join(_FITTED_ARRAYS)} are restored to another library)."
            )
        if not (
            isinstance(place, list | tuple)
            and len(place) == 2
            and all(isinstance(part, str) for part in place)
        ):
            raise ValueError(
                f"Cannot load this model: the library and device of {name!r} "
                f"must be two strings, got {place!r}."
            )
        library, device = place
        if library not in _RESTORABLE:
            raise ValueError(
                f"Cannot restore {name} as an array of {library!r}: only "
                f"{', '.join(_RESTORABLE)} arrays are restored."
            )
        value = state.get(name)
        if not (isinstance(value, np.ndarray) and value.dtype.kind in "biuf"):
            raise ValueError(
                f"Cannot load this model: {name!r} must be saved as a numeric "
                f"numpy array, got {type(value).__name__}."
            )
        checked[name] = (library, device)
    return checked


def _restorer(library: str, device: str, names: list[str]) -> Callable:
    """A function that puts a numpy array in ``library``, on ``device``, or
    where this machine can hold it (with a warning): the CPU, or numpy if
    ``library`` is not installed. ``names``: the arrays, for the warning."""
    import importlib

    try:
        module = importlib.import_module(library)
    except ImportError:
        _warn_moved(
            library, device, names, f"{library} is not installed", "numpy arrays"
        )
        return _identity
    if library == "torch":
        try:
            target = module.device(device)
        except RuntimeError as error:
            raise ValueError(
                f"Cannot load this model: {device!r} is not a torch device."
            ) from error
        if not _torch_device_here(module, target):
            on_cpu = "torch arrays on the CPU"
            _warn_moved(library, device, names, "it is not available", on_cpu)
            target = module.device("cpu")
        return lambda array: module.asarray(array, device=target)
    if library == "cupy":
        index = _cupy_index(device)
        try:
            here = index < module.cuda.runtime.getDeviceCount()
        except RuntimeError:  # CUDARuntimeError: no driver or no device
            here = False
        if not here:
            _warn_moved(library, device, names, "it is not available", "numpy arrays")
            return _identity

        def restore(array: np.ndarray):
            with module.cuda.Device(index):
                return module.asarray(array)

        return restore
    # array-api-strict: its devices are named, Device('device1')
    named = module.Device(device.split("'")[1]) if "'" in device else None
    return lambda array: module.asarray(array, device=named)


def _identity(array: np.ndarray) -> np.ndarray:
    """``array`` itself: the restorer that keeps numpy arrays."""
    return array


def _torch_device_here(torch, device) -> bool:
    """Whether this machine has torch ``device``."""
    if device.type == "cpu":
        return True
    if device.type == "cuda":
        index = 0 if device.index is None else device.index
        return bool(torch.cuda.is_available()) and index < torch.cuda.device_count()
    try:  # mps, xpu, ...: whether this build and machine have one
        torch.empty(0, device=device)
    except (RuntimeError, AssertionError):  # AssertionError: a build without it
        return False
    return True


def _cupy_index(device: str) -> int:
    """The index of a CuPy device saved as ``"<CUDA Device 0>"``."""
    try:
        return int(device.split()[-1].rstrip(">"))
    except (IndexError, ValueError) as error:
        raise ValueError(
            f"Cannot load this model: {device!r} is not a CuPy device."
        ) from error


def _warn_moved(
    library: str, device: str, names: list[str], why: str, loaded_as: str
) -> None:
    """Warn that the fitted arrays ``names`` of ``library`` on ``device`` are
    loaded as ``loaded_as`` ("numpy arrays", ...) instead, and ``why``."""
    warnings.warn(
        f"This model was fitted on {library} device {device!r}, but {why} "
        f"here: its fitted arrays ({', '.join(names)}) are loaded as "
        f"{loaded_as}. Predict with {loaded_as}.",
        UserWarning,
        stacklevel=5,  # the caller of pickle.loads, through __setstate__
    )
