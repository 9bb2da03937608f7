"""fnflight.data"""
