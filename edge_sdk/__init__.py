"""edge-sdk: take a trained model to a phone, a microcontroller or a Jetson.

Public API (heavy frameworks are imported only inside the functions that need them):

    from edge_sdk import load_model, analyze, get_profile, list_profiles, check_fit, load_dataset
"""

__version__ = "0.1.0"

from edge_sdk.data import Dataset, load_dataset
from edge_sdk.errors import EdgeSDKError
from edge_sdk.model import analyze, load_model
from edge_sdk.planner.fit import check_fit
from edge_sdk.profiles import Profile, get_profile, list_profiles

__all__ = [
    "__version__",
    "Dataset",
    "EdgeSDKError",
    "Profile",
    "analyze",
    "check_fit",
    "get_profile",
    "list_profiles",
    "load_dataset",
    "load_model",
]
