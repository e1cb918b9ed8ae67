"""ONNX export through skl2onnx.

``import sklearn_gdlogreg.onnx`` registers a shape calculator and a converter
for :class:`GradientDescentLogisticRegression` (and its CV variant) with
skl2onnx, so that ``skl2onnx.to_onnx`` converts them alone or inside a
``Pipeline``, with the ``zipmap`` option handled as for
``LogisticRegression``. Needs the ``onnx`` extra (skl2onnx, onnxruntime to
run the result).

The graph is the model's own formula in standard ONNX operators, in the
input's float type: ``Z = X @ coef_.T + intercept_``; two classes give
``[sigmoid(-z), sigmoid(z)]`` (the exact form of ``predict_proba``, also for
tiny probabilities), more give ``softmax(Z)``; the label is the class of the
highest probability.
"""

from __future__ import annotations

import numpy as np

try:
    from skl2onnx import update_registered_converter
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


def _class_labels(classes: np.ndarray) -> tuple[int, list]:
    """The ONNX type and values of the labels: int64 or strings."""
    if classes.dtype.kind in "OUS":
        return onnx_proto.TensorProto.STRING, [str(c) for c in classes]
    if classes.dtype.kind == "f" and not np.array_equal(classes, np.round(classes)):
        raise ValueError(
            "ONNX labels are integers or strings; this model's classes are "
            f"{classes.tolist()}."
        )
    return onnx_proto.TensorProto.INT64, [int(c) for c in classes]


def convert_gradient_descent_logistic_regression(scope, operator, container):
    """skl2onnx converter: the graph described in this module's docstring."""
    model = operator.raw_operator
    X = operator.inputs[0].full_name
    label, probabilities = (output.full_name for output in operator.outputs[:2])
    proto = guess_proto_type(operator.inputs[0].type)
    dtype = np.float32 if proto == onnx_proto.TensorProto.FLOAT else np.float64

    def constant(prefix, array, proto_type=proto):
        """An initializer holding ``array``; its name."""
        name = scope.get_unique_variable_name(prefix)
        values = array.ravel().tolist()
        container.add_initializer(name, proto_type, list(array.shape), values)
        return name

    def node(op_type, inputs, output=None, **attributes):
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

    coef = constant("coef", to_numpy(model.coef_).T.astype(dtype))
    intercept = constant("intercept", to_numpy(model.intercept_).astype(dtype))
    scores = node("Add", [node("MatMul", [X, coef]), intercept])
    if model.coef_.shape[0] == 1:  # two classes: [sigmoid(-z), sigmoid(z)]
        negative = node("Sigmoid", [node("Neg", [scores])])
        node("Concat", [negative, node("Sigmoid", [scores])], probabilities, axis=1)
    else:
        node("Softmax", [scores], probabilities, axis=1)
    best = node("ArgMax", [probabilities], axis=1, keepdims=0)
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
    )
