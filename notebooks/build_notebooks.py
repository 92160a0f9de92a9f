"""Writes the two lecture notebooks from the cell lists below.

The notebooks are generated so that their source stays reviewable as Python;
run ``python notebooks/build_notebooks.py`` after editing, and commit both.
``tests/test_notebooks.py`` executes them (quick settings) so they never rot.
"""

import os

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = os.path.dirname(os.path.abspath(__file__))

SETUP = """import os
QUICK = os.environ.get("KERASREG_QUICK", "1") == "1"   # set to "0" for the full settings
import keras, numpy as np
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import kerasreg
from kerasreg import study
keras.utils.set_random_seed(0)"""

OPTIMIZATION = [
    new_markdown_cell("# Optimization, with kerasreg\n\nThe first half of the CS109A lecture "
                      "*Optimization and Regularization*: the challenges of optimization, momentum, "
                      "adaptive learning rates, initialization and batch normalization. Each cell uses "
                      "the kerasreg part that implements the lecture's formula; the recipes in `kerasreg/recipes/` "
                      "measure each claim at full size."),
    new_code_cell(SETUP),
    new_markdown_cell("## Exploding gradients and clipping\n\nIf $\\|g\\| > u$ then $g \\leftarrow g u / \\|g\\|$. "
                      "`GradientClipping` wraps any optimizer and clips the gradient *after* it is summed "
                      "over replicas. Its `global_norm`, `clipped` and `clip_count` variables say what it did."),
    new_code_cell("""opt = kerasreg.optimizers.GradientClipping(kerasreg.optimizers.SGD(0.1), mode="global_norm", threshold=1.0)
w = [keras.Variable(np.array([3.0, 4.0], "float32"))]
opt.apply([keras.ops.convert_to_tensor(np.array([30.0, 40.0], "float32"))], w)
print("pre-clip norm", float(opt.global_norm), "clipped:", float(opt.clipped))
print("step taken:", np.array([3.0, 4.0]) - np.array(w[0]), "(norm 0.1 = lr * u)")"""),
    new_markdown_cell("## Momentum and Nesterov on an ill-conditioned quadratic\n\n"
                      "$v = \\alpha v + (1-\\alpha) g,\\; W = W - \\lambda v$ (the lecture's momentum) and "
                      "Nesterov's gradient at the interim point $\\tilde W = W + \\alpha v$."),
    new_code_cell("""A = np.diag([1.0, 50.0])
grad = lambda ws: [A @ ws[0]]
w0 = [np.array([-4.0, 1.0])]
steps = 60 if QUICK else 200
runs = {
    "SGD": kerasreg.optimizers.SGD(0.039),
    "Momentum": kerasreg.optimizers.Momentum(0.2, momentum=0.5),
    "Nesterov": kerasreg.optimizers.Nesterov(0.02, momentum=0.5),
}
fig, ax = plt.subplots(figsize=(7, 3.5))
g1, g2 = np.meshgrid(np.linspace(-4.5, 1.5, 100), np.linspace(-1.3, 1.3, 100))
ax.contour(g1, g2, 0.5 * (g1**2 + 50 * g2**2), levels=12, cmap="Greys", linewidths=0.6)
for name, opt in runs.items():
    path = np.array([p[0] for p in study.trajectory(opt, w0, grad, steps)])
    loss = 0.5 * np.einsum("ij,jk,ik->i", path, A, path)
    ax.plot(path[:, 0], path[:, 1], ".-", ms=2, label=f"{name}: final loss {loss[-1]:.2e}")
ax.legend(fontsize=8);"""),
    new_markdown_cell("## Adaptive learning rates: AdaGrad, RMSProp, Adam\n\n"
                      "AdaGrad: $r = r + g^2$; RMSProp: $r = \\rho r + (1-\\rho) g^2$; both step "
                      "$W = W - \\frac{\\lambda}{\\delta + \\sqrt r} g$. Adam adds momentum and bias correction. "
                      "kerasreg's versions put $\\delta$ where the lecture does."),
    new_code_cell("""(x_tr, y_tr), (x_val, y_val), _, info = kerasreg.data.load_arrays("digits", flatten=True, seed=0)
def mlp():
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input(info.input_shape), keras.layers.Dense(100, activation="relu"),
                             keras.layers.Dense(100, activation="relu"), keras.layers.Dense(10)])
epochs = 3 if QUICK else 20
for opt in [kerasreg.optimizers.AdaGrad(0.05), kerasreg.optimizers.RMSProp(1e-3), kerasreg.optimizers.Adam(1e-3)]:
    model = mlp()
    model.compile(optimizer=opt, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    h = model.fit(x_tr, y_tr, validation_data=(x_val, y_val), epochs=epochs, verbose=0)
    print(f"{type(opt).__name__:8s} val accuracy {h.history['val_accuracy'][-1]:.3f}")"""),
    new_markdown_cell("## Initialization: He keeps the variance of ReLU activations\n\n"
                      "Xavier $N(0, 1/m)$, He $N(0, 2/m)$, normalized $U(\\pm\\sqrt{6/(m+n)})$, $m$ = fan-in."),
    new_code_cell("""x = np.random.default_rng(0).normal(size=(256, 100)).astype("float32")
for init in [kerasreg.initializers.Xavier(seed=1), kerasreg.initializers.He(seed=1),
             keras.initializers.RandomNormal(stddev=0.01, seed=1)]:
    h, variances = x, []
    for layer in range(10):
        h = keras.layers.Dense(100, activation="relu", kernel_initializer=init)(h)
        variances.append(float(np.var(h)))
    print(f"{type(init).__name__:12s}", " ".join(f"{v:.2e}" for v in variances[::3]))"""),
    new_markdown_cell("## Batch normalization\n\nTraining: $H' = (H - \\mu)/\\sigma$ over the mini-batch, "
                      "output $\\gamma H' + \\beta$; test time uses the running averages."),
    new_code_cell("""bn = kerasreg.layers.BatchNormalization(momentum=0.9)
batch = np.random.default_rng(1).normal(3.0, 2.0, size=(64, 4)).astype("float32")
for _ in range(20):
    bn(batch, training=True)
print("moving mean", np.array(bn.moving_mean).round(2), " batch mean", batch.mean(0).round(2))
print("inference output std", np.array(bn(batch, training=False)).std(0).round(2))"""),
    new_markdown_cell("## Inspect in TensorBoard\n\n`tensorboard_callbacks` puts Keras' TensorBoard, kerasreg's "
                      "monitors and the hyperparameters into one log directory."),
    new_code_cell("""import tempfile
logdir = tempfile.mkdtemp()
model = mlp()
monitor = kerasreg.callbacks.GradientMonitor(every_n_steps=10, histograms=True)
model.compile(optimizer=monitor.wrap(kerasreg.optimizers.Adam(1e-3)),
              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
cbs = kerasreg.callbacks.tensorboard_callbacks(logdir, monitors=[monitor],
                                               hparams={"optimizer": "adam", "learning_rate": 1e-3})
model.fit(x_tr, y_tr, epochs=1 if QUICK else 5, verbose=0, callbacks=cbs)
print("view with: tensorboard --logdir", logdir)"""),
]

REGULARIZATION = [
    new_markdown_cell("# Regularization, with kerasreg\n\nThe second half of the lecture: norm penalties and "
                      "constraints, early stopping, data augmentation, sparse representations, noise "
                      "robustness and dropout. `kerasreg/recipes/overfitting.py` (the flagship, `make demo`) measures "
                      "all of them on the lecture's 5x100 MLP."),
    new_code_cell(SETUP),
    new_code_cell("""split = dict(validation_split=0.7, test_split=0.2, seed=0)
(x_tr, y_tr), (x_val, y_val), _, info = kerasreg.data.load_arrays("digits", flatten=True, **split)
def mlp(dropout=None):
    keras.utils.set_random_seed(0)
    layers = [keras.Input(info.input_shape)]
    for _ in range(5):
        layers.append(keras.layers.Dense(100, activation="relu"))
        if dropout:
            layers.append(kerasreg.layers.Dropout(dropout, scaling="test"))
    return keras.Sequential(layers + [keras.layers.Dense(10)])
def gap(model, epochs):
    model.compile(optimizer=kerasreg.optimizers.Adam(1e-3), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x_tr, y_tr, epochs=epochs, verbose=0)
    return model.evaluate(x_val, y_val, verbose=0) - model.evaluate(x_tr, y_tr, verbose=0)
epochs = 30 if QUICK else 150
print(f"{len(x_tr)} training examples")"""),
    new_markdown_cell("## Norm penalties: $L_R = L + \\alpha\\,\\Omega(W)$, biases not penalized\n\n"
                      "`add_penalties` regularizes a model someone else wrote: every kernel, no bias."),
    new_code_cell("""base = gap(mlp(), epochs)
l2_model = kerasreg.regularizers.add_penalties(mlp(), kernel=kerasreg.regularizers.L2(5e-3))
print("penalty terms:", len(l2_model.losses))
print(f"gap without: {base:.3f}   with L2: {gap(l2_model, epochs):.3f}")"""),
    new_markdown_cell("## Dropout as the lecture teaches it\n\n`scaling=\"test\"`: no rescaling in training; at test "
                      "time outputs are multiplied by the keep probability (the weight-scaling rule). "
                      "Monte Carlo dropout averages sampled sub-networks instead."),
    new_code_cell("""model = mlp(dropout=0.3)
print(f"gap with dropout: {gap(model, epochs):.3f}")
mean, std = kerasreg.layers.monte_carlo_predict(model, x_val[:200], samples=10 if QUICK else 50, seed=0)
acc_mc = np.mean(np.argmax(np.array(mean), -1) == y_val[:200])
acc_ws = np.mean(np.argmax(model.predict(x_val[:200], verbose=0), -1) == y_val[:200])
print(f"weight scaling accuracy {acc_ws:.3f}   Monte Carlo mean accuracy {acc_mc:.3f}")"""),
    new_markdown_cell("## Early stopping, with state that survives a restart"),
    new_code_cell("""stopper = kerasreg.callbacks.EarlyStopping(monitor="val_loss", patience=5, restore_best_weights=True)
model = mlp()
model.compile(optimizer=kerasreg.optimizers.Adam(1e-3), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
model.fit(x_tr, y_tr, validation_data=(x_val, y_val), epochs=epochs, verbose=0, callbacks=[stopper])
print("best epoch", stopper.best_epoch, "best val_loss", round(float(stopper.best), 4), "state keys", sorted(stopper.state_dict())[:4])"""),
    new_markdown_cell("## Data augmentation and label noise\n\nThe lecture's six augmentations are Keras "
                      "preprocessing layers, chained in `tf.data` for the training split only."),
    new_code_cell("""import tempfile
(images, _), _, _, _ = kerasreg.data.load_arrays("digits", seed=0)
path = os.path.join(tempfile.mkdtemp(), "augmentations.png")
kerasreg.augment.preview(images[3], path=path, augmentations=["crop_and_pan", "rotate", "flip_lr", "flip_ud", "elastic"])
print("preview written to", path)
train, val, test, image_info = kerasreg.data.load("digits", augment=[("rotate", 0.05)], label_noise=0.1, seed=0)
print(image_info)"""),
    new_markdown_cell("## Sparse representations\n\nAn activity penalty $\\alpha\\,\\Omega(h)$ on hidden outputs."),
    new_code_cell("""model = kerasreg.regularizers.add_penalties(mlp(), activity=kerasreg.regularizers.ActivityL1(1e-3))
model.compile(optimizer=kerasreg.optimizers.Adam(1e-3), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
model.fit(x_tr, y_tr, epochs=epochs, verbose=0)
hidden = keras.Model(model.inputs, model.layers[2].output)(x_val)
print("fraction of zero activations in layer 3:", float(np.mean(np.array(hidden) == 0)))"""),
]


def write(name, cells):
    nb = new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    path = os.path.join(HERE, name)
    nbformat.write(nb, path)
    return path


if __name__ == "__main__":
    print(write("optimization.ipynb", OPTIMIZATION))
    print(write("regularization.ipynb", REGULARIZATION))
