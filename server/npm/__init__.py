"""npm packages for actions: the registry client, resolution into a tree, the package cache."""

from .build import build_tree, ensure_unpacked, manifest
from .cache import NpmLimits, PackageCache
from .errors import BuildError
from .registry import PUBLIC_REGISTRY, Registry, RegistryConfig, check_registry_url

__all__ = ["PUBLIC_REGISTRY", "BuildError", "NpmLimits", "PackageCache", "Registry", "RegistryConfig",
           "build_tree", "check_registry_url", "ensure_unpacked", "manifest"]
