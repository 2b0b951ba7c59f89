"""torch.hub entry points: every registered resnetzoo model, by its registry name.

    model = torch.hub.load("resnetzoo/resnetzoo", "resnet56_cifar", num_classes=100)
    model = torch.hub.load("/path/to/a/checkout", "resnet18_cifar", source="local")

The entry points are generated from ``resnetzoo.list_models()``, so a newly registered model is
available here without editing this file. Each entry point is the registered function itself.

torch.hub lists every public callable of this module as an entry point, so the imports live inside
the private helpers below and the module namespace holds only ``dependencies`` and the models.
"""

dependencies = ["torch", "torchvision", "huggingface_hub", "safetensors"]


def _add_entry_points(namespace):
    # The registered functions themselves: torch.hub.help shows their own docstrings, and their
    # signatures are those the library documents.
    from resnetzoo.models.registry import get_model_factory, list_models

    for name in list_models():
        namespace[name] = get_model_factory(name)


_add_entry_points(globals())
