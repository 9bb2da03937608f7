"""fnflight.bench"""
