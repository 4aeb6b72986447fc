"""Simulated deliveries for any source spec, so pipelines run end to end without real PHI."""

from platform_assets.simulation.engine import Delivery, SimulationReport, Simulator
from platform_assets.simulation.faults import Fault, FaultRates, Injected
from platform_assets.simulation.values import npi_check_digit

__all__ = ["Delivery", "Fault", "FaultRates", "Injected", "SimulationReport", "Simulator", "npi_check_digit"]
