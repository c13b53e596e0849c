"""Reference vocabularies of the e-KTP card (SIAK values) and of the biometric recording."""

from __future__ import annotations

JENIS_KELAMIN = ("LAKI-LAKI", "PEREMPUAN")

GOLONGAN_DARAH = (
    "A", "B", "AB", "O", "A+", "A-", "B+", "B-", "AB+", "AB-", "O+", "O-", "TIDAK TAHU",
)

AGAMA = (
    "ISLAM",
    "KRISTEN",
    "KATHOLIK",
    "HINDU",
    "BUDHA",
    "KHONGHUCU",
    "KEPERCAYAAN TERHADAP TUHAN YME",
)

STATUS_PERKAWINAN = ("BELUM KAWIN", "KAWIN", "CERAI HIDUP", "CERAI MATI")

KEWARGANEGARAAN = ("WNI", "WNA")

#: SIAK's coded occupation list; the code is the position (1-based).
PEKERJAAN = (
    "BELUM/TIDAK BEKERJA",
    "MENGURUS RUMAH TANGGA",
    "PELAJAR/MAHASISWA",
    "PENSIUNAN",
    "PEGAWAI NEGERI SIPIL",
    "TENTARA NASIONAL INDONESIA",
    "KEPOLISIAN RI",
    "PERDAGANGAN",
    "PETANI/PEKEBUN",
    "PETERNAK",
    "NELAYAN/PERIKANAN",
    "INDUSTRI",
    "KONSTRUKSI",
    "TRANSPORTASI",
    "KARYAWAN SWASTA",
    "KARYAWAN BUMN",
    "KARYAWAN BUMD",
    "KARYAWAN HONORER",
    "BURUH HARIAN LEPAS",
    "BURUH TANI/PERKEBUNAN",
    "BURUH NELAYAN/PERIKANAN",
    "BURUH PETERNAKAN",
    "PEMBANTU RUMAH TANGGA",
    "TUKANG CUKUR",
    "TUKANG LISTRIK",
    "TUKANG BATU",
    "TUKANG KAYU",
    "TUKANG SOL SEPATU",
    "TUKANG LAS/PANDAI BESI",
    "TUKANG JAHIT",
    "TUKANG GIGI",
    "PENATA RIAS",
    "PENATA BUSANA",
    "PENATA RAMBUT",
    "MEKANIK",
    "SENIMAN",
    "TABIB",
    "PARAJI",
    "PERANCANG BUSANA",
    "PENTERJEMAH",
    "IMAM MASJID",
    "PENDETA",
    "PASTOR",
    "WARTAWAN",
    "USTADZ/MUBALIGH",
    "JURU MASAK",
    "PROMOTOR ACARA",
    "ANGGOTA DPR-RI",
    "ANGGOTA DPD",
    "ANGGOTA BPK",
    "PRESIDEN",
    "WAKIL PRESIDEN",
    "ANGGOTA MAHKAMAH KONSTITUSI",
    "ANGGOTA KABINET/KEMENTERIAN",
    "DUTA BESAR",
    "GUBERNUR",
    "WAKIL GUBERNUR",
    "BUPATI",
    "WAKIL BUPATI",
    "WALIKOTA",
    "WAKIL WALIKOTA",
    "ANGGOTA DPRD PROVINSI",
    "ANGGOTA DPRD KABUPATEN/KOTA",
    "DOSEN",
    "GURU",
    "PILOT",
    "PENGACARA",
    "NOTARIS",
    "ARSITEK",
    "AKUNTAN",
    "KONSULTAN",
    "DOKTER",
    "BIDAN",
    "PERAWAT",
    "APOTEKER",
    "PSIKIATER/PSIKOLOG",
    "PENYIAR TELEVISI",
    "PENYIAR RADIO",
    "PELAUT",
    "PENELITI",
    "SOPIR",
    "PIALANG",
    "PARANORMAL",
    "PEDAGANG",
    "PERANGKAT DESA",
    "KEPALA DESA",
    "BIARAWATI",
    "WIRASWASTA",
    "LAINNYA",
)

FINGER_ROLES = (
    "finger_r_thumb",
    "finger_r_index",
    "finger_r_middle",
    "finger_r_ring",
    "finger_r_little",
    "finger_l_thumb",
    "finger_l_index",
    "finger_l_middle",
    "finger_l_ring",
    "finger_l_little",
)
IRIS_ROLES = ("iris_left", "iris_right")
#: Biometrics that need an explicit exception when they cannot be captured. The signature is one
#: of them for the rare resident who can neither sign nor leave a thumbprint mark (no hands); one
#: who cannot write gives a thumbprint, recorded as the signature file, as SIAK does.
EXCEPTABLE_ROLES = ("signature", *IRIS_ROLES, *FINGER_ROLES)
#: Every file of a complete recording; all but the photo may be replaced by an exception.
BIOMETRIC_ROLES = ("photo", *EXCEPTABLE_ROLES)

EXCEPTION_REASONS = ("amputated", "injured", "bandaged", "congenital", "unreadable", "other")

#: Media types the wire format accepts for any biometric file (per-role rules: shared.biometrics).
MEDIA_TYPES = ("image/jpeg", "image/png", "image/x-wsq", "image/jp2", "application/octet-stream")

#: Largest biometric file accepted (a face photo is tens of KB; a WSQ finger about 20 KB).
MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024
