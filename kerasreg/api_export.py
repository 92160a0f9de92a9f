"""One export decorator: registers every serializable kerasreg object.

Keras looks registered objects up by ``"package>ClassName"``; every kerasreg
class is registered as ``"kerasreg>ClassName"`` so that a model saved to
``.keras`` loads again without ``custom_objects`` and an optimizer can be
named in ``model.compile(optimizer="kerasreg>Adam")``.
"""

import keras

PACKAGE = "kerasreg"


def kerasreg_export(cls):
    """Class decorator: register ``cls`` as ``kerasreg>ClassName``."""
    return keras.saving.register_keras_serializable(package=PACKAGE)(cls)
