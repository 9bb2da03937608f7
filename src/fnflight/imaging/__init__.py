"""fnflight.imaging"""
