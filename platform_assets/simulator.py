"""Kept for existing imports: the simulator lives in `platform_assets.simulation`."""

from platform_assets.simulation import Delivery, Fault, FaultRates, SimulationReport, Simulator, npi_check_digit

__all__ = ["Delivery", "Fault", "FaultRates", "SimulationReport", "Simulator", "npi_check_digit"]
