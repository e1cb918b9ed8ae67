"""ONNX export through skl2onnx.

``import sklearn_gdlogreg.onnx`` registers a parser, a shape calculator and
a converter for :class:`GradientDescentLogisticRegression` (and its CV
variant) with skl2onnx, so that ``skl2onnx.to_onnx`` converts them alone or
inside a ``Pipeline``, with the ``zipmap`` and ``nocl`` options handled as
for ``LogisticRegression`` (``nocl=True``: the labels are the indices of
the classes, as int64, and the graph holds no class labels). Needs the
``onnx`` extra (skl2onnx, onnxruntime to run the result). Models fitted on
arrays of another library (PyTorch, ... under array-API dispatch) are
exported from numpy copies of their fitted arrays.

The graph is the model's own formula in standard ONNX operators, in the
input's float type: ``Z = X @ coef_.T + intercept_``. An offset (``fit``'s
and the predict methods' ``offset``) is not part of the graph: it has X as
its only input, so a model fitted with offsets gives in ONNX what
``predict_proba(X)`` gives without them. more than two classes
give ``softmax(Z)``, two give ``softmax([-z/2, z/2])``, which is
``[sigmoid(-z), sigmoid(z)]`` as ``predict_proba`` computes it, to the
relative accuracy of the scores down to near the float type's smallest
normal numbers (tested to 1e-60 in float64, 1e-30 in float32).
onnxruntime's ``Sigmoid`` is not used: its relative error passes 1e-3
below about 1e-13 in float64 (3e-5 in float32), and it returns 0 below
about 1e-16 (1e-8). The label is the class of the highest score, as
``predict`` chooses it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

try:
    from skl2onnx import update_registered_converter
    from skl2onnx._parse import _parse_sklearn_classifier
    from skl2onnx.common.data_types import guess_proto_type
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
    )
    from skl2onnx.proto import onnx_proto
except ImportError as error:  # an optional extra
    raise ImportError(
        "ONNX export needs skl2onnx: pip install 'sklearn-gdlogreg[onnx]'."
    ) from error

from ._array_api import to_numpy
from ._cv import GradientDescentLogisticRegressionCV
from ._estimator import GradientDescentLogisticRegression

# The fitted arrays that skl2onnx's parser and shape calculator, and the
# converter, read.
_FITTED = ("classes_", "coef_", "intercept_")


def _on_host(model: Any) -> Any:
    """``model`` itself if its fitted arrays are numpy arrays, else a shallow
    copy that holds numpy copies of them (the model is left as it is)."""
    if all(isinstance(getattr(model, name), np.ndarray) for name in _FITTED):
        return model
    # Not copy.copy: its pickling state would put the arrays back on their
    # device (GradientDescentLogisticRegression.__setstate__).
    host = object.__new__(type(model))
    host.__dict__.update(vars(model))
    for name in _FITTED:
        setattr(host, name, to_numpy(getattr(model, name)))
    return host


def _parse(scope: Any, model: Any, inputs: list, custom_parsers: Any = None) -> list:
    """skl2onnx's parser of classifiers, given the model on the host.

    That parser (for ``zipmap``) and skl2onnx's shape calculator read
    ``classes_`` as numpy arrays; a model fitted on arrays of another
    library is parsed, and then converted, as a numpy copy of it.
    """
    host = _on_host(model)
    if host is not model:
        # skl2onnx finds the options given for a model by its id.
        scope.add_options(id(host), scope.get_options(model))
    return _parse_sklearn_classifier(scope, host, inputs, custom_parsers)


def _class_labels(classes: np.ndarray) -> tuple[int, list]:
    """The ONNX type and values of the labels: int64 or strings."""
    if classes.dtype.kind in "OUS":
        return onnx_proto.TensorProto.STRING, [str(c) for c in classes]
    if classes.dtype.kind == "f" and not np.array_equal(classes, np.round(classes)):
        raise ValueError(
            "ONNX labels are integers or strings; this model's classes are "
            f"{classes.tolist()}."
        )
    labels = [int(c) for c in classes]
    int64 = np.iinfo(np.int64)
    outside = [label for label in labels if not int64.min <= label <= int64.max]
    if outside:
        raise ValueError(
            f"ONNX int64 labels cannot hold the classes {outside} of this "
            f"model (int64 holds {int64.min} to {int64.max}). Use labels "
            "in that range or strings, or the converter option nocl=True "
            "(the labels are then the indices of the classes)."
        )
    return onnx_proto.TensorProto.INT64, labels


def convert_gradient_descent_logistic_regression(
    scope: Any, operator: Any, container: Any
) -> None:
    """skl2onnx converter: the graph described in this module's docstring.

    Parameters
    ----------
    scope : skl2onnx.common._topology.Scope
        The conversion's scope (names, options).
    operator : skl2onnx.common._topology.Operator
        The model (``raw_operator``, on the host: see ``_parse``), its
        input and its outputs (labels, probabilities).
    container : skl2onnx.common._container.ModelComponentContainer
        The graph being built.
    """
    model = operator.raw_operator
    X = operator.inputs[0].full_name
    label, probabilities = (output.full_name for output in operator.outputs[:2])
    proto = guess_proto_type(operator.inputs[0].type)
    dtype = np.float32 if proto == onnx_proto.TensorProto.FLOAT else np.float64
    # The scope's options, as skl2onnx's own linear classifier reads nocl:
    # _parse gives a model fitted on another library's arrays its options
    # there.
    nocl = scope.get_options(model, {"nocl": False})["nocl"]

    def constant(prefix: str, array: np.ndarray, proto_type: int = proto) -> str:
        """An initializer holding ``array``; its name."""
        name = scope.get_unique_variable_name(prefix)
        values = array.ravel().tolist()
        container.add_initializer(name, proto_type, list(array.shape), values)
        return name

    def node(
        op_type: str, inputs: list[str], output: str | None = None, **attributes: Any
    ) -> str:
        """Add ``op_type`` of ``inputs``; its output (a new name if None)."""
        output = output or scope.get_unique_variable_name(op_type.lower())
        container.add_node(
            op_type,
            inputs,
            [output],
            name=scope.get_unique_operator_name(op_type),
            **attributes,
        )
        return output

    coef = to_numpy(model.coef_)
    scores = node(
        "Add",
        [
            node("MatMul", [X, constant("coef", coef.T.astype(dtype))]),
            constant("intercept", to_numpy(model.intercept_).astype(dtype)),
        ],
    )
    if coef.shape[0] == 1:
        # Two classes: softmax([-z/2, z/2]) = [sigmoid(-z), sigmoid(z)],
        # without onnxruntime's Sigmoid, which flushes tiny probabilities to
        # 0. Halving is exact, and the larger half-score is z's class, as
        # predict chooses it (z > 0: classes_[1]).
        halves = constant("halves", np.array([[-0.5, 0.5]], dtype=dtype))
        scores = node("Mul", [scores, halves])
    node("Softmax", [scores], probabilities, axis=1)
    # The highest score rather than the highest probability: probabilities
    # that round to the same value (0.5 and 0.5 for a tiny z) would tie.
    if nocl:
        node("ArgMax", [scores], label, axis=1, keepdims=0)
        return
    best = node("ArgMax", [scores], axis=1, keepdims=0)
    label_type, labels = _class_labels(to_numpy(model.classes_))
    classes = constant("classes", np.array(labels), label_type)
    node("Gather", [classes, best], label, axis=0)


for _estimator in (
    GradientDescentLogisticRegression,
    GradientDescentLogisticRegressionCV,
):
    update_registered_converter(
        _estimator,
        f"SklearnGdlogreg{_estimator.__name__}",
        calculate_linear_classifier_output_shapes,
        convert_gradient_descent_logistic_regression,
        options={"zipmap": [True, False, "columns"], "nocl": [True, False]},
        parser=_parse,
    )
