"""The dynamic kinetic service: libRoadRunner simulation of SBML or Antimony programs."""
