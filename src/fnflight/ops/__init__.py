"""fnflight.ops"""
