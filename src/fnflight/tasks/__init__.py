"""fnflight.tasks"""
