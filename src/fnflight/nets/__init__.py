"""fnflight.nets"""
