"""The static metabolic service: COBRApy flux-balance analysis on cached SBML models."""
