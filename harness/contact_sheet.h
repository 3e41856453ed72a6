// `harness sheet`: a PNG contact sheet of a dataset's camera images, for a person to check
// demonstrations at a glance: one row per demo (evenly spaced over the file), for each image key
// the frames at 0, 1/4, 1/2, 3/4 and the end of the demo.
#pragma once

#include <string>

namespace onedp {

struct ContactSheetOptions {
  std::string dataset;
  std::string out;   // .png
  int demos = 6;     // rows
  int frames = 5;    // frames per image key
  int scale = 1;     // pixel upscaling
};

// Returns the number of rows drawn; throws std::runtime_error if the file has no image keys.
int WriteContactSheet(const ContactSheetOptions& options);

}  // namespace onedp
