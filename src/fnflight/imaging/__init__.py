"""fnflight.imaging: the camera model.

- :mod:`~fnflight.imaging.srgb`: sRGB and gamma curves.
- :mod:`~fnflight.imaging.color`: colour matrices (Bradford, camera -> sRGB), rendering (paper 000 3.3).
- :mod:`~fnflight.imaging.noise`: heteroscedastic / Poisson-Gaussian noise, noise std maps.
- :mod:`~fnflight.imaging.noise_estimation`: Poisson-Gaussian noise levels from one image (Foi et al.).
- :mod:`~fnflight.imaging.homography`: camera-shake homographies (paper 000 sec. 4.1), warps, KPN jitter.
- :mod:`~fnflight.imaging.motion`: LSD2 short/long synthesis: gyro trajectories, rolling-shutter blur.
- :mod:`~fnflight.imaging.raw`: unprocessing, forward ISP, Bayer / X-Trans mosaics and packing, SID levels.
- :mod:`~fnflight.imaging.demosaic`: bilinear demosaicking of any CFA (the classical raw pipeline).

Tensors are batched ``(B, C, H, W)``; random functions take a ``torch.Generator``.
"""

from .color import (
    BRADFORD,
    EXIF_ILLUMINANT_WHITE,
    SRGB_FROM_XYZ,
    WHITE_POINTS,
    XYZ_FROM_SRGB,
    apply_color_matrix,
    bradford_adaptation,
    camera_to_srgb_matrix,
    render_srgb,
)
from .demosaic import demosaic_bilinear
from .homography import (
    homography_from_params,
    homography_sampling_grid,
    identity_homography,
    intrinsics_from_fov,
    mean_displacement,
    rotation_matrix_xyz,
    sample_burst_offsets,
    sample_homography,
    translate_image,
    translation_homography,
    warp_image,
)
from .motion import (
    GyroTrajectory,
    color_distort,
    motion_blur,
    rolling_shutter_homographies,
    sample_gyro_trajectory,
    sample_saturation_factor,
    saturate,
    short_exposure,
)
from .noise import (
    add_heteroscedastic_noise,
    add_poisson_gaussian_noise,
    noise_std_map,
    sample_log_uniform,
    sample_noise_params,
)
from .noise_estimation import estimate_noise_levels, estimate_white_noise
from .raw import (
    BAYER_PATTERNS,
    UNPROCESS_XYZ_TO_CAMERA,
    XTRANS_CFA,
    XTRANS_PACKED_COLORS,
    amplification_ratio,
    amplify,
    inverse_smoothstep,
    mosaic,
    mosaic_bayer,
    mosaic_xtrans,
    normalize_levels,
    pack_bayer,
    pack_xtrans,
    process,
    render_camera_rgb,
    sample_sensor_noise,
    sample_unprocessing_noise,
    sample_unprocessing_params,
    smoothstep,
    unpack_bayer,
    unpack_xtrans,
    unprocess,
    white_balance_gains,
)
from .srgb import gamma_compress, gamma_expand, linear_from_srgb, srgb_from_linear

__all__ = [
    "BAYER_PATTERNS",
    "BRADFORD",
    "EXIF_ILLUMINANT_WHITE",
    "SRGB_FROM_XYZ",
    "UNPROCESS_XYZ_TO_CAMERA",
    "WHITE_POINTS",
    "XTRANS_CFA",
    "XTRANS_PACKED_COLORS",
    "XYZ_FROM_SRGB",
    "GyroTrajectory",
    "add_heteroscedastic_noise",
    "add_poisson_gaussian_noise",
    "amplification_ratio",
    "amplify",
    "apply_color_matrix",
    "bradford_adaptation",
    "demosaic_bilinear",
    "estimate_noise_levels",
    "estimate_white_noise",
    "camera_to_srgb_matrix",
    "color_distort",
    "gamma_compress",
    "gamma_expand",
    "homography_from_params",
    "homography_sampling_grid",
    "identity_homography",
    "intrinsics_from_fov",
    "inverse_smoothstep",
    "linear_from_srgb",
    "mean_displacement",
    "mosaic",
    "mosaic_bayer",
    "mosaic_xtrans",
    "motion_blur",
    "noise_std_map",
    "normalize_levels",
    "pack_bayer",
    "pack_xtrans",
    "process",
    "render_camera_rgb",
    "sample_sensor_noise",
    "render_srgb",
    "rolling_shutter_homographies",
    "rotation_matrix_xyz",
    "sample_burst_offsets",
    "sample_gyro_trajectory",
    "sample_homography",
    "sample_log_uniform",
    "sample_noise_params",
    "sample_saturation_factor",
    "sample_unprocessing_noise",
    "sample_unprocessing_params",
    "saturate",
    "short_exposure",
    "smoothstep",
    "srgb_from_linear",
    "translate_image",
    "translation_homography",
    "unpack_bayer",
    "unpack_xtrans",
    "unprocess",
    "white_balance_gains",
    "warp_image",
]
