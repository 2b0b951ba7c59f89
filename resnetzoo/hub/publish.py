"""Publishing a model to the Hub as a resnetzoo repo."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from huggingface_hub import CommitInfo, CommitOperationAdd, HfApi
from huggingface_hub.errors import HfHubHTTPError
from torch import nn

from .._version import __version__
from ..errors import HubRequestError
from .config import CARD_NAME, CONFIG_NAME, WEIGHTS_NAME
from .download import TRANSFER_ERRORS, describe_request_error
from .save import save_pretrained

__all__ = ["push_to_hub"]

logger = logging.getLogger(__name__)


def push_to_hub(
    model: nn.Module,
    repo_id: str,
    *,
    token: str | None = None,
    private: bool = False,
    revision: str | None = None,
    create_pr: bool = False,
    commit_message: str = "Upload resnetzoo model",
    metrics: Mapping[str, float] | None = None,
    recipe: str | None = None,
    categories: Sequence[str] | None = None,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    dataset: str | None = None,
) -> CommitInfo:
    """Upload ``model`` as a resnetzoo repo (weights, ``config.json``, model card) in one commit.

    The files are those :func:`save_pretrained` writes, staged in a temporary folder; the repo
    is created if it does not exist. Files already in the repo that resnetzoo does not write
    are left alone.

    Args:
        model: A model built by a registered factory.
        repo_id: ``"org/name"``; ``resnetzoo/<model>.<tag>`` for the library's own weights.
        token: Hub token with write access; ``None`` uses ``HF_TOKEN`` or the logged-in token.
        private: Create the repo private (an existing repo keeps its visibility).
        revision: Branch to commit to; ``None`` is the default branch.
        create_pr: Open a pull request instead of committing to the branch.
        commit_message: The commit summary.
        metrics: Evaluation results as fractions, e.g. ``{"top1": 0.941}`` (the card shows percent).
        recipe: Name of the training recipe.
        categories: Class names in logit order.
        mean: Per-channel input mean used in training.
        std: Per-channel input standard deviation used in training.
        dataset: The training data set.

    Returns:
        The commit: ``.oid`` is the revision to pin in a :class:`Weights` record,
        ``.commit_url`` its page.

    Raises:
        ValueError: If the model cannot be saved (see :func:`save_pretrained`).
        HubRequestError: If the Hub refuses the request (no or read-only token, no such
            namespace, ...) or cannot be reached.
    """
    api = HfApi(token=token, library_name="resnetzoo", library_version=__version__)
    with tempfile.TemporaryDirectory(prefix="resnetzoo-push-") as staging:
        folder = save_pretrained(
            model,
            Path(staging) / "repo",
            metrics=metrics,
            recipe=recipe,
            categories=categories,
            mean=mean,
            std=std,
            dataset=dataset,
            repo_id=repo_id,
        )
        # One explicit commit of exactly the three files: the repo never shows new weights
        # beside an old config, and nothing else from the staging folder can slip in.
        operations = [
            CommitOperationAdd(path_in_repo=name, path_or_fileobj=folder / name)
            for name in (WEIGHTS_NAME, CONFIG_NAME, CARD_NAME)
        ]
        try:
            api.create_repo(repo_id, private=private, exist_ok=True)
            info = api.create_commit(
                repo_id,
                operations,
                commit_message=commit_message,
                revision=revision,
                create_pr=create_pr,
            )
        except (HfHubHTTPError, *TRANSFER_ERRORS) as err:
            raise HubRequestError(
                f"pushing to {repo_id!r} failed ({describe_request_error(err)}); check that the token "
                "(HF_TOKEN or `hf auth login`) has write access to the namespace"
            ) from err
    logger.info("pushed %s to %s (commit %s)", getattr(model, "model_name", "model"), repo_id, info.oid)
    return info
