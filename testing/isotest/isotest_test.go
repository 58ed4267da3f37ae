package isotest

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestBootISO(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		make     func(testing.TB, string) string
		wantBoot []string
	}{
		{"EFI image file", BootISO, []string{"BIOS /isolinux/isolinux.bin", "UEFI /images/efiboot.img"}},
		{"appended EFI partition", func(t testing.TB, v string) string { return BootISOAppendedEFI(t, v, true) },
			[]string{"BIOS /isolinux/isolinux.bin", "UEFI -"}},
		{"appended EFI partition only", func(t testing.TB, v string) string { return BootISOAppendedEFI(t, v, false) },
			[]string{"BIOS /isolinux/isolinux.bin", "UEFI -"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checkBootISO(t, tt.make, tt.wantBoot)
		})
	}
}

func checkBootISO(t *testing.T, make func(testing.TB, string) string, wantBoot []string) {
	const volid = "Fedora 41 x86_64"
	iso := make(t, volid)
	info := Inspect(t, iso)

	if info.VolumeID != volid {
		t.Errorf("VolumeID = %q, want %q", info.VolumeID, volid)
	}
	want := map[string]string{
		"isolinux/isolinux.cfg": IsolinuxCfg(volid),
		"EFI/BOOT/grub.cfg":     GrubCfg(volid, "linuxefi"),
		"boot/grub2/grub.cfg":   GrubCfg(volid, "linux"),
	}
	if diff := cmp.Diff(want, info.Files); diff != "" {
		t.Errorf("Files (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(GrubCfg(volid, "linuxefi"), info.EFIGrubCfg); diff != "" {
		t.Errorf("EFIGrubCfg (-want +got):\n%s", diff)
	}
	if !info.HasMBR {
		t.Error("no isohybrid MBR")
	}
	if diff := cmp.Diff(wantBoot, info.BootImages()); diff != "" {
		t.Errorf("El Torito boot images (-want +got):\n%s\nreport:\n%s", diff, strings.Join(info.BootRecords, "\n"))
	}
	if !strings.Contains(info.Files["isolinux/isolinux.cfg"], `inst.stage2=hd:LABEL=Fedora\x2041\x20x86_64 quiet`) {
		t.Error("isolinux.cfg does not carry the escaped label")
	}
}

func TestBootISOAllConfigs(t *testing.T) {
	t.Parallel()
	const volid = "Fedora 41 s390x"
	info := Inspect(t, BootISOAllConfigs(t, volid))
	want := map[string]string{
		"isolinux/isolinux.cfg": IsolinuxCfg(volid),
		"EFI/BOOT/grub.cfg":     GrubCfg(volid, "linuxefi"),
		"EFI/BOOT/BOOT.conf":    GrubCfg(volid, "linuxefi"),
		"boot/grub2/grub.cfg":   GrubCfg(volid, "linux"),
		"boot/grub/grub.cfg":    GrubCfg(volid, "linux"),
		"images/generic.prm":    GenericPrm(),
		"images/cdboot.prm":     CdbootPrm(volid),
	}
	if diff := cmp.Diff(want, info.Files); diff != "" {
		t.Errorf("Files (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(GrubCfg(volid, "linuxefi"), info.EFIBootConf); diff != "" {
		t.Errorf("EFIBootConf (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"BIOS /isolinux/isolinux.bin", "UEFI /images/efiboot.img"}, info.BootImages()); diff != "" {
		t.Errorf("El Torito boot images (-want +got):\n%s", diff)
	}
}
