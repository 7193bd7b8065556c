"""Kisah: customer-service story coach for sales teams."""
