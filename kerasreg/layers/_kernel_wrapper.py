"""Shared base of the wrappers that perturb a wrapped layer's kernel."""

import keras

from kerasreg._validation import check_seed


class KernelWrapper(keras.layers.Wrapper):
    """Calls the wrapped layer with its ``kernel`` weights replaced by
    ``perturb(kernel)``, through ``Layer.stateless_call``.

    The replacement is a tensor computed from the kernel variable, so
    gradients flow back to the kernel; the variable itself is never written.
    Works for every layer whose weights include one or more variables named
    ``"kernel"`` (``Dense``, ``EinsumDense``, ``Conv1D/2D/3D``,
    ``Conv*Transpose``).
    """

    def __init__(self, layer, seed=None, **kwargs):
        if not isinstance(layer, keras.layers.Layer):
            raise TypeError(f"`layer` must be a keras Layer, got {layer!r}.")
        super().__init__(layer, **kwargs)
        self.seed = check_seed(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed)

    def build(self, input_shape=None):
        super().build(input_shape)
        if not any(self._is_kernel(v) for v in self.layer.weights):
            raise ValueError(
                f"`layer` must have a weight named 'kernel' (Dense or Conv); "
                f"{self.layer.__class__.__name__} has "
                f"{[v.name for v in self.layer.weights]}."
            )

    @staticmethod
    def _is_kernel(variable):
        return variable.name == "kernel"

    def perturbed_call(self, inputs, perturb):
        """The wrapped layer's output with each kernel ``W`` replaced by ``perturb(W)``."""

        def values(variables):
            return [perturb(v.value) if self._is_kernel(v) else v.value for v in variables]

        outputs, _ = self.layer.stateless_call(
            values(self.layer.trainable_variables),
            values(self.layer.non_trainable_variables),
            inputs,
        )
        return outputs

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        # keras.layers.Wrapper.from_config pops "layer" from the dict it is
        # given; work on a copy so the caller's config stays intact.
        return super().from_config(dict(config), custom_objects=custom_objects)
