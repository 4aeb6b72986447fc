"""Simulated deliveries for any source spec, so pipelines run end to end without real PHI."""

from carelake.tools.simulation.engine import Delivery, SimulationReport, Simulator
from carelake.tools.simulation.faults import Fault, FaultRates, Injected
from carelake.tools.simulation.values import npi_check_digit

__all__ = ["Delivery", "Fault", "FaultRates", "Injected", "SimulationReport", "Simulator", "npi_check_digit"]
