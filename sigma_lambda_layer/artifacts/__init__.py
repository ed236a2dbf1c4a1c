"""Deployable artifacts built from converted rules (templates, bundles), one module per target family."""
