"""A run's record: history.csv, one row of loss and dev scores per epoch, and curves.png."""

import csv
import io

from rnnkit.io.atomic import atomic_write_bytes, atomic_write_text

HISTORY_FILE, CURVES_FILE = "history.csv", "curves.png"


def curves_unavailable():
    """Why curves.png cannot be drawn, or None when it can."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return "matplotlib is not installed (pip install 'rnnkit[train]')"
    return None


def write_history(out, history):
    """history.csv, and curves.png where matplotlib is installed (see curves_unavailable)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(history[0]))
    writer.writeheader()
    writer.writerows(history)
    atomic_write_text(out / HISTORY_FILE, buf.getvalue())
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    epochs = [h["epoch"] for h in history]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
    ax1.plot(epochs, [h["train_loss"] for h in history], marker="o")
    ax1.set(xlabel="epoch", ylabel="training loss", title="loss")
    for key in ("dev_precision", "dev_recall", "dev_f1"):
        ax2.plot(epochs, [h[key] for h in history], marker="o", label=key[4:])
    ax2.set(xlabel="epoch", ylabel="dev score", title="dev entity scores")
    ax2.legend()
    fig.tight_layout()
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=100)
    plt.close(fig)
    atomic_write_bytes(out / CURVES_FILE, png.getvalue())
